"""Candidate families (trainers); each module registers its families with `@trainer(task, name)`."""

"""Candidate families (trainers) of the shared model workshop; a task names the ones it trains (`TaskSpec.families`)."""

"""Data augmentation: SMOTE oversampling, tabular synthesis with a privacy check, text edits; rows keep lineage."""

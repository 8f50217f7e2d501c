"""Large-model line: base checkpoints, chat templates, SFT with LoRA or full tuning, chat generation, RAG."""

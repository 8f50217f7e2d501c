"""Text families: the text feature pipeline and shared helpers of the text-classification trainers."""

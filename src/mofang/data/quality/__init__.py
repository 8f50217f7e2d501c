"""Data quality: text metrics and filters, label-noise detection, class balance."""

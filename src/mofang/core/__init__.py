"""The vocabulary every unit of Mofang shares; it imports nothing else of Mofang."""

"""Static files of the demo page."""

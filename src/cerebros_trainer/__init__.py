"""Reference Keras trainer and polling daemon for the Cerebros training service."""

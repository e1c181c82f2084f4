"""One module per screen; each receives its data from the app and posts what the user asked."""

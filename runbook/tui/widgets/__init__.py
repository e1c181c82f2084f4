"""Small widgets that render what they are given (the screens wire them)."""

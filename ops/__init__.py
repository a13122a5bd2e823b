"""Command-line tools that build, run, deploy and exercise the system."""

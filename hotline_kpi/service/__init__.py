"""The long-running service: scheduler jobs, inbox, exporter, HTTP app and status page."""

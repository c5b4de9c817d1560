"""URL maps, each included from portal/urls.py."""

"""The scripts ``modax dashboards`` hands to ``panel serve``, shipped inside the package."""

"""User uploads (CSV/JSON) that the Analysis and Carbon steps of a run can use."""

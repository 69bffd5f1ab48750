"""Statistics on tables and series, reduction scenarios, and upload parsing."""

from tools.analysis.upload import ParsedUpload, UploadError, UploadLimits, parse_upload

__all__ = ["ParsedUpload", "UploadError", "UploadLimits", "parse_upload"]

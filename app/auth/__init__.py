"""Passkey (WebAuthn) sign-in, JWT access tokens, rotating refresh tokens and route guards."""

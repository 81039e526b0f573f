"""Send Viber business messages to phone numbers through the DecisionTelecom Viber API."""

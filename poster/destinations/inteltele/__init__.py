"""Send Viber business messages to phone numbers through the Intel Tele IM HTTP API."""

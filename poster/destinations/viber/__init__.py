"""The Viber channel kind: its messages and limits, composing, API client and sandbox channel."""

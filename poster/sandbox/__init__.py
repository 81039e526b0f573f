"""Run the local sandbox: Viber channels and the three gateways' fakes on one port, one page."""

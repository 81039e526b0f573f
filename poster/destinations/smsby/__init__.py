"""Talk to the SMS.BY Viber gateway (bulk-viber-aggregator-api.txt): client, errors, fake."""

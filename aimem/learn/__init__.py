"""The learning engine: signatures, fix templates, estimates, advice, context, patterns, alerts, analytics and the knowledge base."""

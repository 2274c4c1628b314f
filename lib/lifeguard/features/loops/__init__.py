"""Loop detection: rules (named loop patterns), messages (what the model is told), signature
(what makes two calls the same), breaker (per-tool circuit breakers), feature (the feature)."""

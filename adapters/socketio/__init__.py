"""The rasa-webchat compatible socket.io channel (Rasa's socket.io protocol)."""

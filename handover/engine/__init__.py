"""The engine: applies events (router), delivers the outbox, fires timers."""

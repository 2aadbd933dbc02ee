"""The built-in agent console: a desk adapter with a web page for contact-centre agents."""

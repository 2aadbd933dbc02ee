"""Registration in the VNG Klantinteracties API (Open Klant 2): callback requests as a
klantcontact with betrokkene, digitaal adres and interne taak, and finished contacts as
a klantcontact linked to the daemon's and the agent's actors.

`client.OpenKlantClient` is the API for the sink adapter that wires this to the core;
`wire` holds the wire format and its documented assumptions. See README.md.
"""

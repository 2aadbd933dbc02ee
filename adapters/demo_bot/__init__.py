"""The scripted demo bot (a stand-in for Gem); see `adapters.demo_bot.adapter`."""

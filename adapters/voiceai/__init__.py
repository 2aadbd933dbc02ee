"""The telephony channel: AudioCodes VoiceAI Connect (bot API, HTTP mode)."""

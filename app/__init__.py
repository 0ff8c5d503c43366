"""The Streamlit studio: pages, UI helpers and figure builders; it uses only the engine's public API."""

"""KT CCTV AI control centre: cameras, analyser events, incidents and their workflow."""

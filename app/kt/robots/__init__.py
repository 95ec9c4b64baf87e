"""KT's AI robot platform: one place to watch and command guide, patrol and care robots of any vendor."""

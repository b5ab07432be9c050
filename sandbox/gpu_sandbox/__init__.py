"""The sandbox cloud: real Keystone, Placement and Nova on 127.0.0.1 with
simulated GPU hardware. Nothing here is imported by the OSC plugin."""

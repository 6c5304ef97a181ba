"""One ComponentResource per system of the monitoring platform, plus their composition."""

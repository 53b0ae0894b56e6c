"""The bundled demo: a simulated shop whose database slows down and drags its callers."""

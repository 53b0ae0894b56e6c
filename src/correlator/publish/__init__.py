"""Publish: versioned incident change events to the incidents topic and the store."""

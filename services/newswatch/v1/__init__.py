"""Generated protobuf code for proto/newswatch/v1 (make proto)."""

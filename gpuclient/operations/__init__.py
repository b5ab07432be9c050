"""Operations between the commands and the model: each function takes the
client (access.cloud.Cloud) and returns model objects. Reading the estate
(which listings, which providers may be devices), resolving names, the
generation-guarded writes, and flavor classes and capacity estimation."""

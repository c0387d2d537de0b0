"""llama.cpp's own server as a runtime perfgate starts itself (``--runtime llamacpp``).

Needs the optional extra ``perfgate[llamacpp]`` (xllamacpp, gguf). With no
model to download, :mod:`.model` writes deterministic random-weight GGUF
models of three sizes; :mod:`.server` is the child process serving one, and
:mod:`.launch` starts it and builds the client that talks to it.
"""

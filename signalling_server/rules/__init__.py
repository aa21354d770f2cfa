"""The rules of protocol v1, one module per part; composed by ``registry.LobbyRegistry``."""

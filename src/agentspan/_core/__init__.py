"""The SDK's leaf layer: what both the facade (``agentspan.agents``) and the transport
(``agentspan.client``) need — errors, tool definitions, argument coercion, result encoding.

It imports nothing of ours except ``agentspan.protocol``, so ``client`` can use it without
importing the facade (no ``agents`` <-> ``client`` cycle). Private: the public names are
re-exported by ``agentspan.agents``.
"""

enum _PlaceholderConnectorTestSupport {}

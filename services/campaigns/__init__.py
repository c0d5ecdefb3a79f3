"""CampaignService: serves the campaign catalog file over gRPC and follows its changes."""

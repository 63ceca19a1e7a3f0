// deploy.sh writes config.js from Terraform's outputs; the local cloud serves its own.
window.CHAT_CONFIG = {
  restUrl: "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev",
  wsUrl: "wss://ghijkl5678.execute-api.us-east-1.amazonaws.com/dev",
};

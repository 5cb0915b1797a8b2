// Where the HTTP API is. Empty: the same origin (the local platform serves both).
// A deployed static site sets the stack's HttpApiUrl output here.
window.CSMS_API = window.CSMS_API || "";
window.CSMS_SIGN_IN = window.CSMS_SIGN_IN || "";  // Cognito's hosted sign-in URL (the stack writes it)

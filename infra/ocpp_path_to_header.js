// CloudFront Function (viewer request, cloudfront-js-2.0).
// API Gateway WebSocket APIs have no path parameters: keep the charger's path
// (/ocpp/<chargePointId>) in a header for the authorizer and send the
// handshake to the stage path.
function handler(event) {
    var request = event.request;
    request.headers['__HEADER__'] = { value: request.uri };
    request.uri = '/__STAGE__';
    return request;
}

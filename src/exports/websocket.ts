/** `nestjs-django-session/websocket`: sessions in WebSocket gateways, from the handshake's cookie. */
export { SocketSessionStore, SocketSessionError, rememberSessionHandshake } from '../integrations/websocket.js';

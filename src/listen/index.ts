export { ListenEndpoint, LISTEN_HEADER_BUDGET, stamped, type ListenRequest } from './listen-endpoint.js';
export { ListenFanout, ListChangedFanout } from './fanout.js';
export { parseFilter, subscriptionIdText, FilterError, type ListenFilter, type FilterLimits } from './filter.js';
export { quietChannel, listChannel, resourceChannel, LIST_KINDS, LISTEN_HEADERS, SUBSCRIPTION_ID_META_KEY, SUBSCRIPTION_ID_STAND_IN, type ListKind } from './channels.js';

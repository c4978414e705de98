"""The MetaTrader5 package's constants, with their official values (the ones the
package exports; the simulator and the fake module use these same numbers)."""

from __future__ import annotations

from typing import Final

# Position and order types.
POSITION_TYPE_BUY: Final = 0
POSITION_TYPE_SELL: Final = 1
ORDER_TYPE_BUY: Final = 0
ORDER_TYPE_SELL: Final = 1
# Pending order types (orders_get): what the drawdown guard deletes while an account is tripped.
ORDER_TYPE_BUY_LIMIT: Final = 2
ORDER_TYPE_SELL_LIMIT: Final = 3
ORDER_TYPE_BUY_STOP: Final = 4
ORDER_TYPE_SELL_STOP: Final = 5
ORDER_TYPE_BUY_STOP_LIMIT: Final = 6
ORDER_TYPE_SELL_STOP_LIMIT: Final = 7
ORDER_TYPE_CLOSE_BY: Final = 8
ORDER_STATE_STARTED: Final = 0
ORDER_STATE_PLACED: Final = 1

# Trade request actions.
TRADE_ACTION_DEAL: Final = 1
TRADE_ACTION_PENDING: Final = 5
TRADE_ACTION_SLTP: Final = 6
TRADE_ACTION_MODIFY: Final = 7
TRADE_ACTION_REMOVE: Final = 8
TRADE_ACTION_CLOSE_BY: Final = 10

# Order filling policies (request.type_filling) and the symbol's allowed-filling flags
# (symbol_info.filling_mode is a bit set of SYMBOL_FILLING_*).
ORDER_FILLING_FOK: Final = 0
ORDER_FILLING_IOC: Final = 1
ORDER_FILLING_RETURN: Final = 2
SYMBOL_FILLING_FOK: Final = 1
SYMBOL_FILLING_IOC: Final = 2
ORDER_TIME_GTC: Final = 0

# Why a deal happened.
DEAL_REASON_CLIENT: Final = 0
DEAL_REASON_MOBILE: Final = 1
DEAL_REASON_WEB: Final = 2
DEAL_REASON_EXPERT: Final = 3
DEAL_REASON_SL: Final = 4
DEAL_REASON_TP: Final = 5
DEAL_REASON_SO: Final = 6
DEAL_REASON_ROLLOVER: Final = 7
DEAL_REASON_VMARGIN: Final = 8
DEAL_REASON_SPLIT: Final = 9

# Deal direction relative to the position.
DEAL_ENTRY_IN: Final = 0
DEAL_ENTRY_OUT: Final = 1
DEAL_ENTRY_INOUT: Final = 2
DEAL_ENTRY_OUT_BY: Final = 3
DEAL_TYPE_BUY: Final = 0
DEAL_TYPE_SELL: Final = 1

# Account position accounting.
ACCOUNT_MARGIN_MODE_RETAIL_NETTING: Final = 0
ACCOUNT_MARGIN_MODE_EXCHANGE: Final = 1
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING: Final = 2

# last_error() codes.
RES_S_OK: Final = 1
RES_E_FAIL: Final = -1
RES_E_INVALID_PARAMS: Final = -2
RES_E_NO_MEMORY: Final = -3
RES_E_NOT_FOUND: Final = -4
RES_E_INVALID_VERSION: Final = -5
RES_E_AUTH_FAILED: Final = -6
RES_E_UNSUPPORTED: Final = -7
RES_E_AUTO_TRADING_DISABLED: Final = -8
RES_E_INTERNAL_FAIL: Final = -10000
RES_E_INTERNAL_FAIL_SEND: Final = -10001
RES_E_INTERNAL_FAIL_RECEIVE: Final = -10002
RES_E_INTERNAL_FAIL_INIT: Final = -10003
RES_E_INTERNAL_FAIL_CONNECT: Final = -10004
RES_E_INTERNAL_FAIL_TIMEOUT: Final = -10005

# order_send() return codes (OrderSendResult.retcode). 10005 and 10037 do not exist.
TRADE_RETCODE_REQUOTE: Final = 10004
TRADE_RETCODE_REJECT: Final = 10006
TRADE_RETCODE_CANCEL: Final = 10007
TRADE_RETCODE_PLACED: Final = 10008
TRADE_RETCODE_DONE: Final = 10009
TRADE_RETCODE_DONE_PARTIAL: Final = 10010
TRADE_RETCODE_ERROR: Final = 10011
TRADE_RETCODE_TIMEOUT: Final = 10012
TRADE_RETCODE_INVALID: Final = 10013
TRADE_RETCODE_INVALID_VOLUME: Final = 10014
TRADE_RETCODE_INVALID_PRICE: Final = 10015
TRADE_RETCODE_INVALID_STOPS: Final = 10016
TRADE_RETCODE_TRADE_DISABLED: Final = 10017
TRADE_RETCODE_MARKET_CLOSED: Final = 10018
TRADE_RETCODE_NO_MONEY: Final = 10019
TRADE_RETCODE_PRICE_CHANGED: Final = 10020
TRADE_RETCODE_PRICE_OFF: Final = 10021
TRADE_RETCODE_INVALID_EXPIRATION: Final = 10022
TRADE_RETCODE_ORDER_CHANGED: Final = 10023
TRADE_RETCODE_TOO_MANY_REQUESTS: Final = 10024
TRADE_RETCODE_NO_CHANGES: Final = 10025
TRADE_RETCODE_SERVER_DISABLES_AT: Final = 10026
TRADE_RETCODE_CLIENT_DISABLES_AT: Final = 10027
TRADE_RETCODE_LOCKED: Final = 10028
TRADE_RETCODE_FROZEN: Final = 10029
TRADE_RETCODE_INVALID_FILL: Final = 10030
TRADE_RETCODE_CONNECTION: Final = 10031
TRADE_RETCODE_ONLY_REAL: Final = 10032
TRADE_RETCODE_LIMIT_ORDERS: Final = 10033
TRADE_RETCODE_LIMIT_VOLUME: Final = 10034
TRADE_RETCODE_INVALID_ORDER: Final = 10035
TRADE_RETCODE_POSITION_CLOSED: Final = 10036
TRADE_RETCODE_INVALID_CLOSE_VOLUME: Final = 10038
TRADE_RETCODE_CLOSE_ORDER_EXIST: Final = 10039
TRADE_RETCODE_LIMIT_POSITIONS: Final = 10040
TRADE_RETCODE_REJECT_CANCEL: Final = 10041
TRADE_RETCODE_LONG_ONLY: Final = 10042
TRADE_RETCODE_SHORT_ONLY: Final = 10043
TRADE_RETCODE_CLOSE_ONLY: Final = 10044
TRADE_RETCODE_FIFO_CLOSE: Final = 10045

#: Every TRADE_RETCODE_* by value, for messages and for the simulator's scenario files.
TRADE_RETCODES: Final[dict[int, str]] = {
    value: name
    for name, value in dict(globals()).items()
    if name.startswith("TRADE_RETCODE_") and isinstance(value, int)
}
#: Deal reasons by value, lower-case (`client`, `sl`, `so`, ...), as stored in logs.
DEAL_REASONS: Final[dict[int, str]] = {
    value: name.removeprefix("DEAL_REASON_").lower()
    for name, value in dict(globals()).items()
    if name.startswith("DEAL_REASON_") and isinstance(value, int)
}

# Deal types beyond buy and sell (TradeDeal.type). Balance and credit deals carry their amount
# in `profit`: a deposit is positive, a withdrawal negative. The last three are named
# DEAL_* (without TYPE_) in the package, as in MQL5.
DEAL_TYPE_BALANCE: Final = 2
DEAL_TYPE_CREDIT: Final = 3
DEAL_TYPE_CHARGE: Final = 4
DEAL_TYPE_CORRECTION: Final = 5
DEAL_TYPE_BONUS: Final = 6
DEAL_TYPE_COMMISSION: Final = 7
DEAL_TYPE_COMMISSION_DAILY: Final = 8
DEAL_TYPE_COMMISSION_MONTHLY: Final = 9
DEAL_TYPE_COMMISSION_AGENT_DAILY: Final = 10
DEAL_TYPE_COMMISSION_AGENT_MONTHLY: Final = 11
DEAL_TYPE_INTEREST: Final = 12
DEAL_TYPE_BUY_CANCELED: Final = 13
DEAL_TYPE_SELL_CANCELED: Final = 14
DEAL_DIVIDEND: Final = 15
DEAL_DIVIDEND_FRANKED: Final = 16
DEAL_TAX: Final = 17

# Order lifetime (request.type_time) beyond GTC, and the Book-or-Cancel filling policy
# (limit orders only: never used to close).
ORDER_TIME_DAY: Final = 1
ORDER_TIME_SPECIFIED: Final = 2
ORDER_TIME_SPECIFIED_DAY: Final = 3
ORDER_FILLING_BOC: Final = 3

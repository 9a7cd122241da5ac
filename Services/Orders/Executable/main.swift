import Orders
import ServiceKit

await ServiceMain.run(OrdersService.definition)

import ServiceKit
import Users

await ServiceMain.run(UsersService.definition)

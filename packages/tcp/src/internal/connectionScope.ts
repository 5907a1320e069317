/**
 * The scope each server connection's handler runs under, made only when the handler uses it.
 *
 * Most handlers never add a finalizer; a scope costs a map, an effect to make it and one to
 * close it per connection. This one is a `Scope.CloseableScope` that makes the real scope on the
 * first `addFinalizer` or `fork`, and closes it if it was made; closed before it was made, later
 * finalizers run at once with the closing exit, as with any closed scope.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

/** @internal */
export class ConnectionScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private made: Scope.CloseableScope | undefined = undefined
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  /** Whether the real scope exists (something was added to it). */
  get used(): boolean {
    return this.made !== undefined
  }

  private get real(): Effect.Effect<Scope.CloseableScope> {
    if (this.made !== undefined) return Effect.succeed(this.made)
    return Effect.flatMap(Scope.make(this.strategy), (scope) => {
      if (this.made !== undefined) return Effect.succeed(this.made)
      this.made = scope
      const closedWith = this.closedWith
      return closedWith === undefined ? Effect.succeed(scope) : Effect.as(Scope.close(scope, closedWith), scope)
    })
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(this.real, (scope) => Scope.fork(scope, strategy))
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.flatMap(this.real, (scope) => Scope.addFinalizerExit(scope, finalizer))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.made !== undefined) return Scope.close(this.made, exit)
      this.closedWith ??= exit
      return Effect.void
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}

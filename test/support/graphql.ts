/**
 * The GraphQL server of the e2e suites: Apollo on Express, Mercurius on Fastify (the drivers Nest
 * pairs with each platform), schema first from `typeDefs`.
 */
import type { DynamicModule } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import type { Platform } from './app.js';

/** `GraphQLModule.forRoot()` with the platform's driver. */
export function graphqlModule(platform: Platform, typeDefs: string): DynamicModule {
  return platform === 'express'
    ? GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, typeDefs })
    : GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, typeDefs, graphiql: false });
}

/** Each platform with its GraphQL driver's name, for `describe.each`. */
export const GRAPHQL_DRIVERS: Array<[Platform, string]> = [
  ['express', 'Apollo'],
  ['fastify', 'Mercurius'],
];
